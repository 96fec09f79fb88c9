-- Load for one benchmark scenario: POSTs the request bodies in BENCH_BODIES (one JSON document
-- a line) in turn, or GETs the paths in BENCH_PATHS (one a line) when it is set, with the
-- headers in BENCH_HEADERS ("Name: value" lines), and prints one JSON line of totals and
-- percentiles for bench/suite.py to read.
local bodies = {}
for line in io.lines(os.getenv("BENCH_BODIES")) do
  bodies[#bodies + 1] = line
end

local paths = {}
local path_file = os.getenv("BENCH_PATHS")
if path_file and path_file ~= "" then
  for line in io.lines(path_file) do
    paths[#paths + 1] = line
  end
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local extra = os.getenv("BENCH_HEADERS")
if extra and extra ~= "" then
  for line in io.lines(extra) do
    local name, value = line:match("^([^:]+):%s*(.*)$")
    if name then wrk.headers[name] = value end
  end
end

local next_body = 0
local thread_count = 0

function setup(thread)
  -- Threads start at different offsets so they do not all ask for the same page at once.
  thread:set("next_body", thread_count * 7919)
  thread_count = thread_count + 1
end

function request()
  if #paths > 0 then
    next_body = next_body % #paths + 1
    return wrk.format("GET", paths[next_body], {})
  end
  next_body = next_body % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[next_body])
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "mean_us": %.1f, ' ..
    '"errors": %d, "non_2xx": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, errors.connect + errors.read + errors.write + errors.timeout, errors.status))
end
