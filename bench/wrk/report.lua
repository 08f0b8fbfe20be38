-- Shared by every bench script: prints one machine-readable line that bench/report.py parses.
-- Numbers come straight from wrk's own histogram (microseconds), so no text parsing of units.
local M = {}

local threads = {}

function M.setup(thread)
   table.insert(threads, thread)
end

function M.done(summary, latency, requests)
   local e = summary.errors
   local wrapped, next_index = 0, 0
   for _, t in ipairs(threads) do
      wrapped = wrapped + (tonumber(t:get("bench_wrapped")) or 0)
      next_index = math.max(next_index, tonumber(t:get("bench_next")) or 0)
   end
   local secs = summary.duration / 1e6
   io.write(string.format(
      'BENCH_RESULT {"requests":%d,"duration_s":%.3f,"rps":%.1f,' ..
      '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f,' ..
      '"bytes":%d,"non2xx":%d,"socket_errors":%d,"timeouts":%d,"pool_wrapped":%d,"next_index":%d}\n',
      summary.requests, secs, summary.requests / secs,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000,
      summary.bytes, e.status, e.connect + e.read + e.write, e.timeout, wrapped, next_index))
end

return M
