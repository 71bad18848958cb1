/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "manager.h"

int bus_manager_add_objects(Manager *m);
