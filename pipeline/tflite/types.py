"""TFLite tensor type numbers and their numpy element types: the one table kwsq uses.

The numbers are the schema's ``TensorType`` values, which kwsq's C runtime also uses as
its ``kwsq_type``. INT4 has no numpy type: it is stored packed, two values per byte.
Kept free of heavy imports so the device bridge can use it without the schema module.
"""

from __future__ import annotations

import numpy as np

FLOAT32, FLOAT16, INT32, UINT8, INT64, BOOL, INT16, INT8, INT4 = 0, 1, 2, 3, 4, 6, 7, 9, 17

NUMPY_DTYPES: dict[int, np.dtype] = {
    FLOAT32: np.dtype("<f4"),
    FLOAT16: np.dtype("<f2"),
    INT32: np.dtype("<i4"),
    UINT8: np.dtype("u1"),
    INT64: np.dtype("<i8"),
    BOOL: np.dtype("bool"),
    INT16: np.dtype("<i2"),
    INT8: np.dtype("i1"),
}
