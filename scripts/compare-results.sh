# Sourced by scripts/compare: write_results prints perf/RESULTS.md from the variables of the run
# (TABLES, WORK, CONFIGS, TOOLS, ...). A hand-written "## Notes" section at the end of the
# previous file is kept.

write_results() {
  local notes="" cpu_model jvm rustc_v brokers jflags n
  [[ -f "$OUT" ]] && notes="$(sed -n '/^## Notes/,$p' "$OUT")"
  cpu_model="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
  jvm="$(java -version 2>&1 | head -1)"
  rustc_v="$(rustc -V)"
  brokers="$(pgrep -fc 'kafka\.Kafka ' || true)"
  if [[ "$JAVA_FLAGS" == stock ]]; then
    jflags="the JVM flags of Kafka's bin/kafka-producer-perf-test.sh: \`${STOCK_JVM[*]}\`"
  else
    jflags="\`scripts/kafka producer-perf-test\` (\`-Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1\`)"
  fi
  cat <<EOF
# Producer benchmark: kafka-sync against librdkafka, Confluent's Rust client and Java

Written by \`scripts/compare\` on $START_TIME. Re-run it to refresh; numbers from another
machine or another load are not comparable with these: compare the ratios within one run.

## Method

- Tools: ours is \`examples/perf\`; librdkafka is \`compare/\` (rust-rdkafka's \`ThreadedProducer\`;
  when its queue is full, send is retried every 1 ms); Confluent's Rust client is \`compare-confluent/\`
  (one multi-threaded Tokio runtime at its defaults, each caller awaiting \`send\` on borrowed bytes
  in one \`block_on\`); Java is Kafka's ProducerPerformance. The three Rust tools share the Java
  tool's argument parsing, payloads, statistics and throttling (\`examples/perf/common.rs\`), so only
  the producer differs. Every record is sent with a callback; latency is send() to the callback
  (librdkafka: the delivery report), in whole milliseconds, as Java's tool measures it.
- Workloads: $RECORDS records per run (rate50k: at most 500,000), a fresh topic per run (6
  partitions; keys: 1000), one broker. Generated payloads are Java's: random upper-case letters
  from \`SplittableRandom(0)\`, made per record by the tool itself (which costs CPU in the tool, not
  in the client). Payload files are $PAYLOAD_LINES lines of exactly the record size, written by
  \`scripts/compare-lib.py\` from SHAKE-256 of "1:line" (bytes 33..126; lz4: words of a fixed
  64-word list, which lz4 compresses about 2.3x); each record is a line drawn at random, as Java's
  tool draws them. threads8 uses \`--threads 8\` (8 caller threads sharing one producer, each sending
  an eighth of the records); the Java tool has no such option and is left out of it.
- Batching: "own defaults" runs each client at its defaults: librdkafka with its own (batch.size
  1,000,000, linger.ms 5, batch.num.messages 10,000, queue.buffering.max.messages 100,000,
  queue.buffering.max.kbytes 1 GiB), the other three with Java's (batch.size 16384, linger.ms 5,
  buffer.memory 32 MiB). librdkafka gets \`acks\` and \`enable.idempotence\` as Java sets them (on
  with acks=all, off otherwise), so every client has the same delivery semantics. "Equal batching"
  passes \`$EQUAL_PROPS\` to all four; librdkafka takes batch.size and linger.ms as they are and
  buffer.memory as queue.buffering.max.kbytes=32768 with no count bound
  (queue.buffering.max.messages=0): every client makes batches of at most 16 KiB after at most
  5 ms, and holds at most 32 MiB of records waiting.
- Rounds: $ROUNDS; in each, every (tool, batching) runs once per workload, in an order rotated by one
  place per round. The tables give medians over the rounds.
- Topics: created before each run with \`kafka-topics\`; a topic of more than 100 partitions (keys)
  is only used once every partition has a leader, plus 2 s (a client started on a topic the broker
  is still setting up meets partitions without leaders, and Confluent's client then failed with
  OutOfOrderSequence errors), and is deleted right after its run; the others after each round.
- Verification: after every run, the topic's end offsets must add up to the records sent, and the
  tool must exit 0 with its summary line; runs that fail are listed under "Failed runs" and left out
  of the medians (the "runs" column says over how many runs a median is).
- CPU per record: the user+sys time of the whole benchmark process (JVM, runtime and tool
  included), from /usr/bin/time, divided by the records sent. Peak RSS: /usr/bin/time's %M.

$TABLES

EOF
  for n in "${SKIP_NOTES[@]+"${SKIP_NOTES[@]}"}" "${NOTES_OUT[@]+"${NOTES_OUT[@]}"}"; do echo "- $n"; done
  cat <<EOF

## Machine

- $(nproc) CPUs: $cpu_model
- **Shared machine**: the broker runs on the same $(nproc) cores as the benchmark (client and broker
  compete for CPU), and so do $brokers Kafka broker JVMs in all and other jobs. Load average before
  the runs: $LOAD_BEFORE; after: $LOAD_AFTER. Processes above 5% of a CPU in the second before the
  runs: ${BUSY:-none}.
- Kafka $KAFKA_VERSION (broker at $BOOT, and the Java client/tool), KRaft single node, log on local disk
- JVM: $jvm; the Java tool ran with $jflags
- $rustc_v; ours: \`target/release/examples/perf\` (release profile)
EOF
  [[ -z "$RDK_VERSION" ]] || echo "- librdkafka $RDK_VERSION (\`compare/\`), built by rdkafka-sys, $(gcc --version 2>/dev/null | head -1)"
  [[ -z "$CONFLUENT_VERSION" ]] || echo "- confluent-kafka $CONFLUENT_VERSION (\`compare-confluent/\`, default features, release profile)"
  cat <<EOF
- Date: $START_TIME; total benchmark time $elapsed s

## Every run

$(python3 "$LIB" runs "$WORK")

Command: \`scripts/compare ${ARGS[*]}\` (defaults: --rounds 3 --records 2000000 --configs "$ALL_CONFIGS" --tools "ours rdk confluent java" --batching both --java-flags stock)
EOF
  if [[ -n "$notes" ]]; then
    echo
    echo "$notes"
  fi
}
