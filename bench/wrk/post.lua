-- post.lua — wrk script: members reply to topics. WRK_TOKENS names a file
-- of bearer tokens (one a line; each wrk thread posts as one member) and
-- WRK_TOPICS is "FIRST LAST", the range of topic ids replied to at random.
-- Reports like report.lua.

dofile(os.getenv("WRK_LIB") .. "/report.lua")

local tokens = {}
for line in io.lines(os.getenv("WRK_TOKENS")) do
  if #line > 0 then
    tokens[#tokens + 1] = line
  end
end
local first, last = string.match(os.getenv("WRK_TOPICS"), "(%d+) (%d+)")
first, last = tonumber(first), tonumber(last)

local next_thread = 0
setup = function(thread)
  next_thread = next_thread + 1
  thread:set("token", tokens[(next_thread - 1) % #tokens + 1])
  thread:set("seed", next_thread)
end

local n = 0
init = function()
  math.randomseed(seed * 7919 + os.time())
end

request = function()
  n = n + 1
  local topic = math.random(first, last)
  return wrk.format("POST", "/api/v1/topics/" .. topic .. "/posts",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token},
    '{"body":"bench 回复 ' .. n .. '：FOB 深圳，交期 15 天 **MOQ** 500"}')
end
