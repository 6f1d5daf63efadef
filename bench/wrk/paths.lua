-- paths.lua — wrk script: GET the paths listed in the file named by
-- WRK_PATHS (one a line) in turn, and report like report.lua. Used by
-- bench/community.py to time search queries.

dofile(os.getenv("WRK_LIB") .. "/report.lua")

local paths = {}
for line in io.lines(os.getenv("WRK_PATHS")) do
  if #line > 0 then
    paths[#paths + 1] = line
  end
end

local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
