-- Calendar windows in UTC, as in quota.rs: returns start and end in Unix seconds.
local function quota_window(sec, period)
  local day = math.floor(sec / 86400)
  if period == 'd' then
    return day * 86400, (day + 1) * 86400
  end
  -- Howard Hinnant's civil_from_days.
  local z = day + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local dom = doy - math.floor((153 * mp + 2) / 5) + 1
  local month = mp < 10 and mp + 3 or mp - 9
  local year = yoe + era * 400
  if month <= 2 then year = year + 1 end
  local len = 31
  if month == 2 then
    local leap = (year % 4 == 0 and year % 100 ~= 0) or year % 400 == 0
    len = leap and 29 or 28
  elseif month == 4 or month == 6 or month == 9 or month == 11 then
    len = 30
  end
  local start = day - (dom - 1)
  return start * 86400, (start + len) * 86400
end
