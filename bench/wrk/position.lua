-- GET /api/queue/position for random queued requests in BENCH_LINES ("token request_id").
local requests = {}

function init(args)
  for line in io.lines(os.getenv("BENCH_LINES")) do
    local token, request_id = line:match("(%S+) (%d+)")
    requests[#requests + 1] = wrk.format("GET", "/api/queue/position?request_id=" .. request_id,
      {["Authorization"] = "Bearer " .. token})
  end
  math.randomseed(os.time())
end

function request()
  return requests[math.random(#requests)]
end
