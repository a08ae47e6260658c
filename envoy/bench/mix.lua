-- wrk script, the "mix" workload: 19 of 20 requests are GET / (answered 200, no event), every
-- 20th is a failed login POST /login (answered 401, one event).
local requests = {}
local n = 0

function init(args)
  local get = wrk.format("GET", "/", { ["User-Agent"] = "vigil-bench" })
  local login = wrk.format("POST", "/login", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["User-Agent"] = "vigil-bench",
  }, "username=alice&password=wrong-password")
  for i = 1, 19 do requests[i] = get end
  requests[20] = login
end

function request()
  n = n % 20 + 1
  return requests[n]
end
