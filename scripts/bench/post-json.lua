-- wrk script: POST the JSON body found in the file named by $BENCH_BODY_FILE.
-- scripts/bench.sh generates the bodies (1 KiB and 64 KiB) and sets the variable.
local path = os.getenv("BENCH_BODY_FILE")
if path == nil or path == "" then
  error("BENCH_BODY_FILE is not set")
end
local f = assert(io.open(path, "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
