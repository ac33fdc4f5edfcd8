# SPDX-License-Identifier: Apache-2.0
set(BENCH_LIBS zn_network_fixture PkgConfig::JANSSON)
