-- wrk script for bench/peers/run.py: one route per run, against Cap's or ALTCHA's server.
--   PB_PATH   the route (/challenge, /solve, /verify)
--   PB_BODIES a file of JSON bodies, one per line, each sent once (else an empty JSON body)
--   PB_OK     a string every correct answer contains
-- Only correct answers count; once the bodies run out a GET /healthz is sent and counted as
-- "exhausted", never as correct. done() prints one JSON line (PBJSON).
local path, ok_mark, bodies, bi
ok, bad, exhausted = 0, 0, 0
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  path = os.getenv("PB_PATH")
  ok_mark = os.getenv("PB_OK")
  bodies, bi = {}, 0
  local file = os.getenv("PB_BODIES")
  if file and file ~= "" then
    for line in io.lines(file) do
      if #line > 0 then bodies[#bodies + 1] = line end
    end
  end
end

function request()
  if os.getenv("PB_BODIES") == nil or os.getenv("PB_BODIES") == "" then
    return wrk.format("POST", path, headers, "{}")
  end
  bi = bi + 1
  local body = bodies[bi]
  if not body then
    exhausted = exhausted + 1
    return wrk.format("GET", "/healthz")
  end
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  if status == 200 and body:find(ok_mark, 1, true) then ok = ok + 1 else bad = bad + 1 end
end

local threads = {}
function setup(thread) table.insert(threads, thread) end

function done(summary, latency, requests)
  local t = { ok = 0, bad = 0, exhausted = 0 }
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + (thread:get(k) or 0) end
  end
  io.write(string.format(
    'PBJSON {"requests":%d,"duration_us":%d,"ok":%d,"bad":%d,"exhausted":%d,"p50_us":%d,"p99_us":%d,'
    .. '"errors":%d}\n',
    summary.requests, summary.duration, t.ok, t.bad - t.exhausted, t.exhausted,
    latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
