-- wrk script: Apideck-style imports, each for a new consumer, authenticated.
local counter = 0
local auth = os.getenv("AUTH")
local threads = 0
local run = tostring(os.time())
function setup(thread)
  threads = threads + 1
  thread:set("tid", run .. "-" .. threads)
end
request = function()
  counter = counter + 1
  local consumer = "bench-" .. tid .. "-" .. counter
  local body = '{"credentials":{"access_token":"at-' .. consumer .. '","refresh_token":"rt-' .. consumer ..
    '","issued_at":"2026-11-23T10:00:00Z","expires_in":3600},"settings":{"tenant_id":"t-' .. consumer .. '"}}'
  return wrk.format("POST", "/vault/connections/accounting/sandbox/import",
    { ["Authorization"] = auth, ["Content-Type"] = "application/json", ["x-apideck-app-id"] = "bench",
      ["x-apideck-consumer-id"] = consumer }, body)
end
