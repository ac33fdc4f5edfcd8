/* SPDX-License-Identifier: Apache-2.0 */
#include "zn_schema.h"
