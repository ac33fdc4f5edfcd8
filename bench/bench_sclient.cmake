# SPDX-License-Identifier: Apache-2.0
set(BENCH_LIBS zn_conductor_fixture zn_svc)
