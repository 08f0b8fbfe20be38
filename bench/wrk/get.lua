-- Plain GET of the URL given to wrk (one remediation, a list page, or nginx's copy of either).
-- The Authorization header comes from wrk's -H. Only adds the shared result line.
package.path = (os.getenv("BENCH_WRK_DIR") or "bench/wrk") .. "/?.lua;" .. package.path
local report = require("report")
setup = report.setup
done = report.done
