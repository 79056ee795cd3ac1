-- wrk script: GET /api/display/status/ with If-None-Match, cycling through many screens.
-- Usage: wrk ... -s bench/status.lua URL -- CREDENTIALS_FILE
-- CREDENTIALS_FILE has one "token<TAB>device key<TAB>etag" line per screen, so that each
-- screen is asked rarely enough for its rate limit never to be what is measured.
-- Prints "status <code> <count>" for every answer code at the end.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  creds = {}
  for line in io.lines(args[1]) do
    local token, dk, etag = line:match("^([^\t]+)\t([^\t]+)\t(.+)$")
    if token then
      table.insert(creds, {"/api/display/status/?token=" .. token .. "&dk=" .. dk, etag})
    end
  end
  counts = {}
  -- threads start at different screens
  index = math.floor((tid - 1) * #creds / 8)
end

function request()
  index = index % #creds + 1
  local c = creds[index]
  return wrk.format("GET", c[1], {["If-None-Match"] = c[2]})
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local c = thread:get("counts")
    for code, n in pairs(c) do
      total[code] = (total[code] or 0) + n
    end
  end
  for code, n in pairs(total) do
    io.write(string.format("status %d %d\n", code, n))
  end
end
