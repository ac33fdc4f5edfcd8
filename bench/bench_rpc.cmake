set(BENCH_LIBS zn_broker)
