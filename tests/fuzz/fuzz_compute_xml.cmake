# SPDX-License-Identifier: Apache-2.0
set(FUZZ_LIBS zn_agent_compute)
