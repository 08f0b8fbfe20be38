-- POST one remediation per request, each on a different instance, so no request hits the
-- "one active remediation per instance" rule and every 2xx reply is a new durable row.
--   wrk ... -s create.lua URL -- PREFIX POOL PER_CLUSTER THREADS [OFFSET [MODE]]
-- Instance n (0 <= n < POOL) is "<PREFIX>i-<n:07d>" in cluster "<PREFIX>c<n // PER_CLUSTER>",
-- the naming of bench/gen_fleet.py. Thread k takes n = OFFSET+k, OFFSET+k+THREADS, ...
-- With BENCH_CREATE_SKIP=K in the environment, instances with n % 1000 < K are left out
-- (bench/seed_remediations leaves those with an active remediation: --active-per-mille).
-- If a thread runs past its share of POOL it wraps around and counts every further request in
-- bench_wrapped: those are rejected (400), so the run is invalid; bench/run.sh reports it.
package.path = (os.getenv("BENCH_WRK_DIR") or "bench/wrk") .. "/?.lua;" .. package.path
local report = require("report")
done = report.done

local next_id = 0

function setup(thread)
   thread:set("bench_tid", next_id)
   next_id = next_id + 1
   report.setup(thread)
end

local prefix, pool, per_cluster, stride, offset, n, body
local skip = tonumber(os.getenv("BENCH_CREATE_SKIP") or "0")
local wrapped = false
bench_wrapped = 0  -- requests sent after this thread's share of the pool ran out
bench_next = 0     -- the next instance this thread would use: a later run starts past the max

function init(args)
   prefix = args[1] or ""
   pool = tonumber(args[2])
   per_cluster = tonumber(args[3])
   stride = tonumber(args[4])
   offset = tonumber(args[5] or "0")
   local mode = args[6] or "REMEDIATION_MODE_VM_ONLY"
   n = offset + bench_tid
   body = '{"mode":"' .. mode .. '","reason":"bench create"}'
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   while n % 1000 < skip do
      n = n + stride
   end
   if n >= pool then
      n = offset + bench_tid
      wrapped = true
   end
   if wrapped then
      bench_wrapped = bench_wrapped + 1
   end
   local path = string.format("/v1/compute/clusters/%sc%d/instances/%si-%07d/remediations",
                              prefix, math.floor(n / per_cluster), prefix, n)
   n = n + stride
   bench_next = n
   return wrk.format("POST", path, nil, body)
end
