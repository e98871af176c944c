-- POST /api/ticket-requests, each request as the next buyer in BENCH_LINES ("token type_id quantity").
local stride = tonumber(os.getenv("BENCH_THREADS"))
local next_id = 0
local requests = {}
local counter = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end

function init(args)
  for line in io.lines(os.getenv("BENCH_LINES")) do
    local token, type_id, quantity = line:match("(%S+) (%d+) (%d+)")
    requests[#requests + 1] = wrk.format("POST", "/api/ticket-requests", {
      ["Authorization"] = "Bearer " .. token,
      ["Content-Type"] = "application/json",
    }, '{"ticket_type_id": ' .. type_id .. ', "quantity": ' .. quantity .. '}')
  end
  counter = tid
end

function request()
  local r = requests[counter % #requests + 1]
  counter = counter + stride
  return r
end
