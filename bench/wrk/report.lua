-- report.lua — wrk script that adds one machine-readable line to wrk's
-- usual report, so bench/run.sh never has to parse wrk's human units
-- ("1.23k", "850.00us").
--
-- The line starts with "WRKRESULT" and holds key=value pairs: totals,
-- the rate, latency percentiles in microseconds and every error counter.
-- Errors are printed because a rate measured while the server refused or
-- failed requests means nothing.

done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "WRKRESULT requests=%d duration_s=%.3f rps=%.1f bytes=%d " ..
    "lat_mean_us=%.1f lat_p50_us=%d lat_p90_us=%d lat_p99_us=%d lat_max_us=%d " ..
    "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d lat_p95_us=%d\n",
    summary.requests, secs, summary.requests / secs, summary.bytes,
    latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout, latency:percentile(95)))
end
