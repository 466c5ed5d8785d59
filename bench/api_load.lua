-- bench/api_load.lua — wrk script for bench/api_load.sh: the requests a
-- Grafana dashboard over bench/target_generator.py's targets sends, drawn
-- at random with weights, each with times relative to now.
--
-- Panels are range queries over the last hour with step 15s (rates summed
-- by instance or by mode, a quantile across instances, a top-k); the stat
-- panels are instant queries; the variables and the query editor ask for
-- label names, label values and series.  Queries name one metric each, as
-- dashboards do (rate() over several names with the same labels is an
-- error in PromQL).  CATALOG (env) is a file of "KIND INSTANCE NAME"
-- lines (bench/history.py --names): the targets' counter and gauge
-- families, which differ by target.
--
-- done() prints one line for api_load.sh to read:
--   result REQUESTS ERRORS P50_MS P99_MS
-- where ERRORS counts non-2xx answers and socket errors of every kind.

local families = {counter = {}, gauge = {}}
local instances, seen = {}, {}
for line in io.lines(os.getenv("CATALOG")) do
    local kind, inst, name = line:match("^(%S+) (%S+) (%S+)$")
    table.insert(families[kind], {inst = inst, name = name})
    if not seen[inst] then
        seen[inst] = true
        instances[#instances + 1] = inst
    end
end

local function enc(s)
    return (string.gsub(s, "[^%w%-%._~]", function(c)
        return string.format("%%%02X", string.byte(c))
    end))
end

-- A family of that kind on some target: its name and its target.
local function pick(kind)
    local l = families[kind]
    return l[math.random(#l)]
end

local function pick_instance()
    return instances[math.random(#instances)]
end

local function range(q)
    local now = os.time()
    return "/api/v1/query_range?query=" .. enc(q) .. "&start=" .. (now - 3600) .. "&end=" ..
               now .. "&step=15"
end

local function instant(q)
    return "/api/v1/query?query=" .. enc(q) .. "&time=" .. os.time()
end

local function series(sel)
    local now = os.time()
    return "/api/v1/series?match[]=" .. enc(sel) .. "&start=" .. (now - 3600) .. "&end=" .. now
end

-- {weight, function returning a path}
local mix = {
    {12, function() return range("sum by (instance) (rate(" .. pick("counter").name .. "[1m]))") end},
    {12, function()
        local c = pick("counter")
        return range("sum by (mode) (rate(" .. c.name .. '{instance="' .. c.inst .. '"}[1m]))')
    end},
    {8, function() return range("quantile by (instance) (0.9, " .. pick("gauge").name .. ")") end},
    {8, function()
        local g = pick("gauge")
        return range("topk(5, max_over_time(" .. g.name .. '{instance="' .. g.inst .. '"}[5m]))')
    end},
    {6, function() return range('avg_over_time(up{job="bench"}[5m])') end},
    {8, function() return instant('sum by (instance) (scrape_samples_scraped{job="bench"})') end},
    {6, function() return instant('count by (instance) ({__name__=~"node_bench_value_[0-9]+"})') end},
    {6, function()
        local c = pick("counter")
        return instant("sum(increase(" .. c.name .. '{instance="' .. c.inst .. '"}[1h]))')
    end},
    {2, function() return instant('count by (instance) ({__name__=~"node_bench_.+"})') end},
    {8, function() return "/api/v1/labels" end},
    {6, function() return "/api/v1/label/instance/values" end},
    {6, function()
        return "/api/v1/label/__name__/values?match[]=" .. enc('{instance="' .. pick_instance() .. '"}')
    end},
    {4, function() return "/api/v1/label/mode/values" end},
    {6, function() return series('up{job="bench"}') end},
    {4, function()
        local g = pick("gauge")
        return series(g.name .. '{instance="' .. g.inst .. '"}')
    end},
}

local total = 0
for _, m in ipairs(mix) do
    total = total + m[1]
end

function init(args)
    math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000))
end

function request()
    local r = math.random(total)
    for _, m in ipairs(mix) do
        r = r - m[1]
        if r <= 0 then
            return wrk.format("GET", m[2]())
        end
    end
end

function done(summary, latency, requests)
    local e = summary.errors
    local errors = e.connect + e.read + e.write + e.status + e.timeout
    io.write(string.format("result %d %d %.3f %.3f\n", summary.requests, errors,
                           latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
