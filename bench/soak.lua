-- Load for the soak (bench/soak.py). Each request is drawn at random from the weighted bodies in
-- BENCH_MIX ("weight<TAB>JSON document" lines), so that a ten-minute run keeps meeting pages it
-- has not asked for yet, as readers do. With BENCH_RATE > 0 the thread sends at that many
-- requests per second in all, on a fixed schedule shared by its connections (one wrk thread:
-- run with -t1). Prints one JSON line of totals, percentiles and error counts.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } soak_timespec;
int clock_gettime(int clock_id, soak_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local clock = ffi.new("soak_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local bodies, cumulative, total = {}, {}, 0
for line in io.lines(os.getenv("BENCH_MIX")) do
  local weight, body = line:match("^([^\t]+)\t(.*)$")
  total = total + tonumber(weight)
  bodies[#bodies + 1] = body
  cumulative[#cumulative + 1] = total
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

-- Per-thread counters: globals, so that done() can read them with thread:get.
non_2xx, graphql_errors, degraded, late = 0, 0, 0, 0

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("thread_number", #threads)
end

function init(args)
  math.randomseed(tonumber(os.getenv("BENCH_SEED") or "1") * 100 + thread_number)
end

function request()
  local r = math.random() * total
  local low, high = 1, #cumulative
  while low < high do
    local middle = math.floor((low + high) / 2)
    if cumulative[middle] < r then low = middle + 1 else high = middle end
  end
  return wrk.format(nil, nil, nil, bodies[low])
end

local rate = tonumber(os.getenv("BENCH_RATE") or "0")
if rate > 0 then
  local interval, next_at = 1000 / rate, nil
  -- Called before every request on every connection: each call takes the next free slot of
  -- one schedule. A slot already past (the server fell behind) is sent at once, so a stall is
  -- followed by the requests that arrived during it instead of silently lowering the rate.
  function delay()
    local now = now_ms()
    next_at = next_at or now
    local wait = next_at - now
    next_at = next_at + interval
    if wait < -100 then late = late + 1 end
    return wait > 0 and math.floor(wait) or 0
  end
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non_2xx = non_2xx + 1
  elseif body:find('"errors":', 1, true) then
    -- Inside a JSON string a quote is escaped, so this can only be the top-level key.
    graphql_errors = graphql_errors + 1
  end
  if body:find('"degraded":true', 1, true) then degraded = degraded + 1 end
end

function done(summary, latency, requests)
  local counts = { non_2xx = 0, graphql_errors = 0, degraded = 0, late = 0 }
  for _, thread in ipairs(threads) do
    for name, _ in pairs(counts) do counts[name] = counts[name] + thread:get(name) end
  end
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "mean_us": %.1f, "socket_errors": %d, "timeouts": %d, "non_2xx": %d, ' ..
    '"graphql_errors": %d, "degraded": %d, "late": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean,
    errors.connect + errors.read + errors.write, errors.timeout, counts.non_2xx,
    counts.graphql_errors, counts.degraded, counts.late))
end
