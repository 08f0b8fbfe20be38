-- GETs of many URLs in turn (e.g. one remediation each), read from the file named by
-- BENCH_PATHS (one path per line); each wrk thread starts at its own place in the list, so
-- concurrent requests mostly ask for different rows. Only adds the shared result line.
package.path = (os.getenv("BENCH_WRK_DIR") or "bench/wrk") .. "/?.lua;" .. package.path
local report = require("report")
done = report.done

local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
local next_thread = 0

function setup(thread)
   thread:set("bench_start", next_thread * 7919)
   next_thread = next_thread + 1
   report.setup(thread)
end

local n

function request()
   n = ((n or bench_start) + 1) % #paths
   return wrk.format("GET", paths[n + 1])
end
