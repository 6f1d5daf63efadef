-- rate.lua — wrk script: each connection waits WRK_INTERVAL_MS (whole
-- milliseconds: wrk drops fractions) between a response and its next
-- request, so -c N gives about N * 1000 / (interval + latency) requests a
-- second: a steady load below the maximum, at which latency is measured
-- (wrk counts the wait in no request's latency). Reports like report.lua.

dofile(os.getenv("WRK_LIB") .. "/report.lua")

local interval = tonumber(os.getenv("WRK_INTERVAL_MS"))

delay = function()
  return interval
end
