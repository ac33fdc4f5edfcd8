# SPDX-License-Identifier: Apache-2.0
set(BENCH_LIBS zn_sched_core zn_agent_scheduler zn_conductor_fixture zn_svc)
