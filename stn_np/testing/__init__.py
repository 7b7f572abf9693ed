"""Testing other people's code against stn_np's: the ``grid_sample`` conformance battery.

:func:`check_grid_sample` runs a sampler you wrote (in any framework, behind two small
adapters) through the categories of :mod:`stn_np.testing.categories` and returns a
:class:`ConformanceReport`; ``stn-np conformance MODULE:FUNCTION`` is the same on the command
line. See :mod:`stn_np.testing.conformance` for what is compared with what.
"""

from .categories import CATEGORIES, Case, Category, category_names
from .conformance import (TIE_RULES, CategoryResult, CheckResult, ConformanceReport, check_grid_sample, stn_np_sampler,
                          stn_np_vjp, tie_adjusted_grid)

__all__ = ["CATEGORIES", "Case", "Category", "CategoryResult", "CheckResult", "ConformanceReport", "TIE_RULES",
           "category_names", "check_grid_sample", "stn_np_sampler", "stn_np_vjp", "tie_adjusted_grid"]
