-- Anonymous GETs of an event's public reads, the event's id in BENCH_LINES. BENCH_TARGET says
-- which: "availability" asks /api/availability?event_id=N, "event_page" /events/N/.
local target = os.getenv("BENCH_TARGET")
local requests = {}
local counter = 0

function init(args)
  for line in io.lines(os.getenv("BENCH_LINES")) do
    local event_id = line:match("(%d+)")
    if event_id then
      if target == "availability" then
        requests[#requests + 1] = wrk.format("GET", "/api/availability?event_id=" .. event_id)
      else
        requests[#requests + 1] = wrk.format("GET", "/events/" .. event_id .. "/")
      end
    end
  end
end

function request()
  counter = counter + 1
  return requests[(counter - 1) % #requests + 1]
end
