-- bench/webhooks.py's requests for wrk: every line of the file (path?query TAB body) once, split between the threads.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
  thread:set("count", 0)
end

function init(args)
  requests = {}
  local n, i = tonumber(args[2]), 0
  for line in io.lines(args[1]) do
    if i % n == id then
      local tab = line:find("\t", 1, true)
      table.insert(requests, wrk.format("POST", line:sub(1, tab - 1), {["Content-Type"] = "text/xml"}, line:sub(tab + 1)))
    end
    i = i + 1
  end
  position = 0
end

function request()
  position = position + 1
  if position > #requests then position = 1 end  -- more requests than callbacks: WeCom's retries, stored once
  return requests[position]
end
