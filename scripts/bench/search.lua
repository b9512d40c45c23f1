-- wrk script of `make bench`: one search word per request, round robin over a word list.
--
--   wrk -t2 -c16 -d10s -s scripts/bench/search.lua http://127.0.0.1:PORT -- WORDS_FILE PATH_PREFIX THREADS START
--
-- WORDS_FILE has one word per line. Each request sends PATH_PREFIX .. word (e.g.
-- "/api/v1/products/search/?q="). Thread k starts k/THREADS of the way into the list, so the threads
-- never send the same word at the same time; START shifts every thread, so that the next round
-- carries on where this one stopped instead of repeating its first words.

local next_id = 0

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
end

local function urlencode(text)
   return (text:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
   words = {}
   local file = assert(io.open(args[1], "r"))
   for line in file:lines() do
      if line ~= "" then
         words[#words + 1] = urlencode(line)
      end
   end
   file:close()
   assert(#words > 0, "no words in " .. args[1])
   prefix = args[2] or "/api/v1/products/search/?q="
   local threads = tonumber(args[3] or "1")
   local start = tonumber(args[4] or "0")
   position = (start + math.floor(#words * id / threads)) % #words
end

function request()
   position = position + 1
   if position > #words then
      position = 1
   end
   return wrk.format("GET", prefix .. words[position])
end
