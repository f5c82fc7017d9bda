-- wrk script: GET /companies/{id} for random seeded ids, authenticated.
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
local auth = os.getenv("AUTH")
request = function()
  local id = ids[math.random(#ids)]
  local headers = {}
  if auth then headers["Authorization"] = auth end
  return wrk.format("GET", "/companies/" .. id, headers)
end
