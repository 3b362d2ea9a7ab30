-- wrk script for Haechi's protocol benchmark (bench/protocol/run.py drives it).
--
-- Environment:
--   HB_SCENARIO  bare | challenge | challenge_tele | challenge_tele_v1 | solve | siteverify | mixed
--   HB_SITEKEY   sitekey for /v1/challenge
--   HB_ORIGIN    Origin header (a page on the site's hostname)
--   HB_TELEMETRY file with one telemetry JSON object (challenge_tele: v2, as the widget sends it)
--   HB_TELEMETRY_V1 the same window as v1 (challenge_tele_v1)
--   HB_SOLVES    file: one /v1/solve JSON body per line (pre-minted, each usable once)
--   HB_VERIFIES  file: one /siteverify form body per line (pre-minted tokens, each usable once)
--
-- Only correct answers count: a challenge with a sealed challenge and PoW parameters, a solve
-- whose outcome is "token", a siteverify with "success":true. done() prints one JSON line.
-- wrk gives each thread its own Lua state; setup() numbers them so pre-minted lines are split
-- between threads and never sent twice.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local function read_lines(path)
  local lines = {}
  if not path or path == "" then return lines end
  local f = assert(io.open(path, "r"))
  for line in f:lines() do
    if #line > 0 then lines[#lines + 1] = line end
  end
  f:close()
  return lines
end

local function slice(lines, tid, n)
  local out = {}
  for i = tid + 1, #lines, n do out[#out + 1] = lines[i] end
  return out
end

local scenario, json_headers, form_headers, challenge_body
local solves, verifies = {}, {}
local si, vi, turn = 0, 0, 0
ok_challenge, ok_solve, ok_verify, bad, exhausted = 0, 0, 0, 0, 0

function init(args)
  scenario = os.getenv("HB_SCENARIO") or "bare"
  local origin = os.getenv("HB_ORIGIN") or "http://localhost"
  json_headers = { ["Content-Type"] = "application/json", ["Origin"] = origin }
  form_headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  local sitekey = os.getenv("HB_SITEKEY") or ""
  challenge_body = '{"v":1,"sitekey":"' .. sitekey .. '"}'
  if scenario == "challenge_tele" or scenario == "challenge_tele_v1" then
    local name = scenario == "challenge_tele" and "HB_TELEMETRY" or "HB_TELEMETRY_V1"
    local f = assert(io.open(os.getenv(name), "r"))
    local tele = f:read("*a"):gsub("%s+$", "")
    f:close()
    challenge_body = '{"v":1,"sitekey":"' .. sitekey .. '","telemetry":' .. tele .. '}'
  end
  local nthreads = tonumber(os.getenv("HB_THREADS") or "1")
  if scenario == "solve" or scenario == "mixed" then
    solves = slice(read_lines(os.getenv("HB_SOLVES")), tid, nthreads)
  end
  if scenario == "siteverify" or scenario == "mixed" then
    verifies = slice(read_lines(os.getenv("HB_VERIFIES")), tid, nthreads)
  end
end

local function challenge()
  return wrk.format("POST", "/v1/challenge", json_headers, challenge_body)
end

-- Once the pre-minted items run out, a bare request is sent instead (counted as "exhausted",
-- never as a correct answer) so the run stays honest; raise --max-rps to mint more.
local function filler()
  exhausted = exhausted + 1
  return wrk.format("GET", "/healthz")
end

local function solve()
  si = si + 1
  local body = solves[si]
  if not body then return filler() end
  return wrk.format("POST", "/v1/solve", json_headers, body)
end

local function siteverify()
  vi = vi + 1
  local body = verifies[vi]
  if not body then return filler() end
  return wrk.format("POST", "/siteverify", form_headers, body)
end

function request()
  if scenario == "bare" then return wrk.format("GET", "/healthz") end
  if scenario:sub(1, 9) == "challenge" then return challenge() end
  if scenario == "solve" then return solve() end
  if scenario == "siteverify" then return siteverify() end
  turn = turn % 3 + 1
  if turn == 1 then return challenge() elseif turn == 2 then return solve() end
  return siteverify()
end

function response(status, headers, body)
  if status ~= 200 then bad = bad + 1; return end
  if body:find('"success":true', 1, true) then
    ok_verify = ok_verify + 1
  elseif body:find('"outcome":"token"', 1, true) then
    ok_solve = ok_solve + 1
  elseif body:find('"status":"ok"', 1, true) then
    if scenario == "bare" then ok_challenge = ok_challenge + 1 end -- else a filler's answer
  elseif body:find('"challenge":"', 1, true) and body:find('"pow":', 1, true)
      and not body:find('"outcome"', 1, true) then
    ok_challenge = ok_challenge + 1
  else
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local t = { ok_challenge = 0, ok_solve = 0, ok_verify = 0, bad = 0, exhausted = 0 }
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + (thread:get(k) or 0) end
  end
  io.write(string.format(
    'HBJSON {"requests":%d,"duration_us":%d,"errors_connect":%d,"errors_read":%d,'
    .. '"errors_write":%d,"errors_status":%d,"errors_timeout":%d,'
    .. '"ok_challenge":%d,"ok_solve":%d,"ok_verify":%d,"bad":%d,"exhausted":%d,'
    .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    t.ok_challenge, t.ok_solve, t.ok_verify, t.bad, t.exhausted,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
