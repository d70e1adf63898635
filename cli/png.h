// Small 8-bit images for previews: a canvas (grey or RGB), rectangles, text in a built-in 5×7
// bitmap font (printable ASCII), and PNG files written with zlib (deflate + CRC-32).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gl {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

// width × height pixels, row-major, channels interleaved: px[(y·width + x)·channels + c].
// channels 1 (grey: a colour's r is used) or 3 (RGB).
struct Canvas {
  int width = 0, height = 0, channels = 1;
  std::vector<uint8_t> px;
};

Canvas canvas_make(int width, int height, int channels, Rgb fill);
void canvas_pixel(Canvas& c, int x, int y, Rgb colour);  // clipped to the canvas
void canvas_rect(Canvas& c, int x, int y, int w, int h, Rgb colour);

// The font: glyphs 5 wide and 7 high, drawn in cells of font_advance × font_line pixels (× scale).
constexpr int font_width = 5, font_height = 7, font_advance = 6, font_line = 9;
// Text with its top-left corner at (x, y); bytes outside 32..126 draw as '?'.
void canvas_text(Canvas& c, int x, int y, std::string_view text, Rgb colour, int scale = 1);
int canvas_text_width(std::string_view text, int scale = 1);  // pixels, without trailing space

// PNG (8-bit grey, colour type 0, or RGB, colour type 2; no interlace; filter 0 on every row).
std::string png_encode(const Canvas& c);
void png_write(const std::string& path, const Canvas& c);  // crash-safe (file_write_atomic)

}  // namespace gl
