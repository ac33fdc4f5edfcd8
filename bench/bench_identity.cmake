# SPDX-License-Identifier: Apache-2.0
set(BENCH_LIBS zn_identity_fixture zn_agent_identity zn_idclient)
