-- wrk script of bench_ingest.py: POSTs pre-signed webhooks, cycling through a prepared list.
--
-- Environment (read when wrk loads the script):
--   WRK_REQUESTS  a Lua file returning { {mark, signature, body}, ... } (written by the benchmark)
--   WRK_PATH      the webhook path
--   WRK_RATE      0: closed loop (each connection posts again as soon as answered);
--                 N: paced at N requests/s in all, each request at its slot of a fixed schedule
--                 (up to the connection count may be outstanding: a slow answer does not
--                 delay the next slots, as in an open loop)
--   WRK_OUT       where done() writes "mark start_monotonic_seconds" per request, then the
--                 summary lines (so that Python matches the marks with the SSE arrivals)
-- Threads step through the list by their number so that two threads never send the same entry.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } sb_timespec;
int clock_gettime(int, sb_timespec *);
]]
local ts = ffi.new("sb_timespec")
local function now()  -- CLOCK_MONOTONIC, the clock of Python's time.monotonic / perf_counter
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local rate = tonumber(os.getenv("WRK_RATE") or "0")
local threads = {}
local count = 0

function setup(thread)
  thread:set("tid", count)
  count = count + 1
  table.insert(threads, thread)
end

function init(args)
  nthreads = count > 0 and count or 1
  reqs = dofile(os.getenv("WRK_REQUESTS"))
  path = os.getenv("WRK_PATH")
  k = tid or 0
  marks, starts = {}, {}
  slot, t0 = 0, nil
end

if rate > 0 then
  function delay()
    local t = now()
    if t0 == nil then t0 = t end
    local due = t0 + slot * nthreads / rate
    slot = slot + 1
    local ms = (due - t) * 1000
    if ms < 0 then return 0 end
    return math.floor(ms)
  end
end

function request()
  local r = reqs[(k % #reqs) + 1]
  k = k + nthreads
  marks[#marks + 1] = r[1]
  starts[#starts + 1] = now()
  return wrk.format("POST", path, {["Content-Type"] = "application/json", ["X-Hub-Signature-256"] = r[2]}, r[3])
end

function done(summary, latency, requests)
  local out = io.open(os.getenv("WRK_OUT"), "w")
  for _, thread in ipairs(threads) do
    local m, s = thread:get("marks"), thread:get("starts")
    for i = 1, #m do out:write(string.format("%d %.6f\n", m[i], s[i])) end
  end
  local e = summary.errors
  out:write(string.format("summary requests=%d duration_us=%d errors=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
  out:close()
end
