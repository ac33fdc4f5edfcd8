# SPDX-License-Identifier: Apache-2.0
set(BENCH_LIBS zn_volume_fixture zn_agent_volume)
