-- wrk's summary as one machine-readable line (wrk calls done() once, after SIGINT or -d).
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d connect=%d read=%d write=%d timeout=%d status=%d p50_us=%d p95_us=%d p99_us=%d max_us=%d duration_us=%d\n",
    summary.requests, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, summary.duration))
end
