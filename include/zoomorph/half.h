/*
 * half.h: IEEE half-precision conversion (round to nearest even; inf and NaN kept),
 * for float16 stamps (ZM_DT_F16 fields).
 */
#ifndef ZOOMORPH_HALF_H
#define ZOOMORPH_HALF_H

#include <stdint.h>

uint16_t zm_f32_to_f16(float f);
float zm_f16_to_f32(uint16_t h);

#endif
