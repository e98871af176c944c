-- Each request as the next buyer in BENCH_LINES, in turn across wrk's threads. BENCH_TARGET says
-- what each sends: "ingest" POSTs /api/ticket-requests ("token type_id quantity"), "trivial"
-- GETs /bench/trivial ("token ...").
local target = os.getenv("BENCH_TARGET")
local stride = tonumber(os.getenv("BENCH_THREADS"))
local next_id = 0
local requests = {}
local counter = 0

local function format(line)
  if target == "ingest" then
    local token, type_id, quantity = line:match("(%S+) (%d+) (%d+)")
    return wrk.format("POST", "/api/ticket-requests", {
      ["Authorization"] = "Bearer " .. token,
      ["Content-Type"] = "application/json",
    }, '{"ticket_type_id": ' .. type_id .. ', "quantity": ' .. quantity .. '}')
  end
  local token = line:match("(%S+)")
  return wrk.format("GET", "/bench/trivial", {["Authorization"] = "Bearer " .. token})
end

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end

function init(args)
  for line in io.lines(os.getenv("BENCH_LINES")) do
    requests[#requests + 1] = format(line)
  end
  counter = tid
end

function request()
  local r = requests[counter % #requests + 1]
  counter = counter + stride
  return r
end
