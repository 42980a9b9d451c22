-- wrk script: POST claims of 10.00 spread over the workers listed in $WORKERS_FILE (one id a
-- line), each with a unique invoice reference. Env: FUND, SCHEME, TOKEN, WORKERS_FILE, START, END,
-- RUN (unique per run: invoice references must never repeat across runs).
local workers = {}
for line in io.lines(os.getenv("WORKERS_FILE")) do
  if #line > 0 then table.insert(workers, line) end
end
local path = "/v1/funds/" .. os.getenv("FUND") .. "/claims"
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("TOKEN") }
local template = '{"worker_id":"%s","scheme_id":"' .. os.getenv("SCHEME") ..
  '","amount":"10.00","category":"vakopleiding","course":"Bench","provider":"Bench BV",' ..
  '"invoice_reference":"%s-%d","training_start":"' .. os.getenv("START") .. '","training_end":"' .. os.getenv("END") .. '"}'

local threads = {}
function setup(thread)
  thread:set("tag", string.format("%s-T%d", os.getenv("RUN"), #threads))
  table.insert(threads, thread)
end

local counter = 0
function request()
  counter = counter + 1
  local worker = workers[math.random(#workers)]
  return wrk.format("POST", path, headers, string.format(template, worker, tag, counter))
end
