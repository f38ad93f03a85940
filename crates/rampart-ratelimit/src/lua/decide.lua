-- One decision for every key of one request: check all, commit only if all admit.
-- KEYS[i]: a GCRA key ('g') or a quota key ('q'). ARGV[3i-2..3i] per key:
--   'g', emission interval (us), capacity = burst * interval (us)
--   'q', limit, period ('d' or 'm')
-- Time is the server's (TIME), as microseconds since 2025-01-01 so doubles stay exact
-- to a few nanoseconds. Returns {admitted, then per key: admit, x, y, w} where for an
-- admitted key x = remaining and y = reset_after (us), for a refused one x = retry_after
-- and y = reset_after (us); w is a quota's window length in seconds (0 for GCRA).
local t = redis.call('TIME')
local sec = tonumber(t[1])
local usec = tonumber(t[2])
local now = (sec - 1735689600) * 1000000 + usec
local admitted = 1
local out = {0}
local commits = {}
for i = 1, #KEYS do
  local kind = ARGV[3 * i - 2]
  if kind == 'g' then
    local interval = tonumber(ARGV[3 * i - 1])
    local capacity = tonumber(ARGV[3 * i])
    local tat = tonumber(redis.call('GET', KEYS[i]) or '0') or 0
    local base = math.max(tat, now)
    local horizon = base - now + interval
    if horizon > capacity then
      admitted = 0
      out[#out + 1] = 0
      out[#out + 1] = math.ceil(horizon - capacity)
      out[#out + 1] = math.ceil(base - now)
      out[#out + 1] = 0
    else
      commits[i] = {'g', base + interval}
      out[#out + 1] = 1
      out[#out + 1] = math.floor((capacity - horizon) / interval)
      out[#out + 1] = math.ceil(horizon)
      out[#out + 1] = 0
    end
  else
    local limit = tonumber(ARGV[3 * i - 1])
    local wstart, wend = quota_window(sec, ARGV[3 * i])
    local h = redis.call('HMGET', KEYS[i], 'w', 'c')
    local count = 0
    if tonumber(h[1]) == wend then count = tonumber(h[2]) or 0 end
    local reset = (wend - sec) * 1000000 - usec
    if count >= limit then
      admitted = 0
      out[#out + 1] = 0
      out[#out + 1] = reset
      out[#out + 1] = reset
      out[#out + 1] = wend - wstart
    else
      commits[i] = {'q', wend, count + 1}
      out[#out + 1] = 1
      out[#out + 1] = limit - count - 1
      out[#out + 1] = reset
      out[#out + 1] = wend - wstart
    end
  end
end
if admitted == 1 then
  for i = 1, #KEYS do
    local c = commits[i]
    if c[1] == 'g' then
      -- The key lives exactly as long as it differs from a full bucket.
      local ttl = math.ceil((c[2] - now) / 1000) + 1
      redis.call('SET', KEYS[i], string.format('%.17g', c[2]), 'PX', ttl)
    else
      redis.call('HSET', KEYS[i], 'w', c[2], 'c', c[3])
      redis.call('EXPIREAT', KEYS[i], c[2] + 60)
    end
  end
end
out[1] = admitted
return out
