-- wrk script: GET /companies?page=N&pageSize=100 over the first 50 pages, authenticated.
local auth = os.getenv("AUTH")
request = function()
  local page = math.random(50)
  return wrk.format("GET", "/companies?page=" .. page .. "&pageSize=100", { ["Authorization"] = auth })
end
