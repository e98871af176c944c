-- GET /bench/trivial, each request as the next buyer in BENCH_LINES ("token ...").
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
    local token = line:match("(%S+)")
    requests[#requests + 1] = wrk.format("GET", "/bench/trivial", {["Authorization"] = "Bearer " .. token})
  end
  counter = tid
end

function request()
  local r = requests[counter % #requests + 1]
  counter = counter + stride
  return r
end
