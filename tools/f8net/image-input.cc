// load_image(): OpenCV when available (imread, BGR -> RGB, optional bilinear resize, planar
// copy), otherwise a strict binary netpbm reader. Sizes are checked before any copy.
#include "image-input.h"

#include <cstdio>
#include <fstream>
#include <iterator>

#include "commands.h"
#include "f8net/data/image-file.h"

#ifdef F8NET_HAVE_OPENCV
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace f8net::cli {
namespace {

#ifndef F8NET_HAVE_OPENCV
// Binary netpbm: "P5"/"P6", whitespace/comments, width, height, maxval 255, one whitespace, data.
Image read_netpbm(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot open " + path);
  std::vector<uint8_t> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t pos = 0;
  auto skip = [&] {
    while (pos < b.size()) {
      if (b[pos] == '#') {
        while (pos < b.size() && b[pos] != '\n') ++pos;
      } else if (b[pos] == ' ' || b[pos] == '\n' || b[pos] == '\r' || b[pos] == '\t') {
        ++pos;
      } else {
        break;
      }
    }
  };
  auto number = [&] {
    skip();
    long v = 0;
    size_t digits = 0;
    while (pos < b.size() && b[pos] >= '0' && b[pos] <= '9' && digits < 7) {
      v = v * 10 + (b[pos++] - '0');
      ++digits;
    }
    if (digits == 0) throw Error(path + ": bad netpbm header");
    return v;
  };
  if (b.size() < 2 || b[0] != 'P' || (b[1] != '5' && b[1] != '6')) {
    throw Error(path + ": not a binary PGM/PPM (this build has no OpenCV for PNG/JPEG)");
  }
  pos = 2;
  Image img;
  img.channels = b[1] == '5' ? 1 : 3;
  img.width = static_cast<int>(number());
  img.height = static_cast<int>(number());
  if (number() != 255) throw Error(path + ": only maxval 255 is supported");
  ++pos;  // the single whitespace byte before the data
  const size_t n = static_cast<size_t>(img.channels) * img.width * img.height;
  if (img.width == 0 || img.height == 0 || pos > b.size() || b.size() - pos < n) {
    throw Error(path + ": truncated image data");
  }
  img.pixels.resize(n);
  for (int c = 0; c < img.channels; ++c)  // interleaved -> planar
    for (size_t i = 0; i < static_cast<size_t>(img.width) * img.height; ++i)
      img.pixels[c * static_cast<size_t>(img.width) * img.height + i] =
          b[pos + i * img.channels + c];
  return img;
}
#endif

}  // namespace

Image load_image(const std::string& path, int channels, int height, int width, bool resize,
                 bool allow_truncated) {
  if (channels != 1 && channels != 3)
    throw Error("models with " + std::to_string(channels) + " input channels cannot take images");
  Image out;
  out.channels = channels;
  out.height = height;
  out.width = width;
  std::vector<uint8_t> bytes;
  const std::string why = data::read_checked_image_file(path, allow_truncated, &bytes);
  if (!why.empty()) throw Error(why);
#ifdef F8NET_HAVE_OPENCV
  // Errors are reported by us in one line; keep OpenCV's own warnings off stderr.
  cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
  cv::Mat m;
  try {
    m = cv::imdecode(bytes, channels == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
  } catch (const cv::Exception&) {
    m.release();
  }
  if (m.empty()) throw Error("cannot decode image " + path);
  if (m.rows != height || m.cols != width) {
    if (!resize) {
      throw Error(path + ": image is " + std::to_string(m.cols) + "x" + std::to_string(m.rows) +
                  ", the model takes " + std::to_string(width) + "x" + std::to_string(height) +
                  " (use --resize)");
    }
    cv::Mat r;
    cv::resize(m, r, cv::Size(width, height), 0, 0, cv::INTER_LINEAR);
    m = r;
  }
  if (channels == 3) cv::cvtColor(m, m, cv::COLOR_BGR2RGB);
  out.pixels.resize(static_cast<size_t>(channels) * height * width);
  for (int y = 0; y < height; ++y) {
    const uint8_t* row = m.ptr<uint8_t>(y);
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c)
        out.pixels[(static_cast<size_t>(c) * height + y) * width + x] = row[x * channels + c];
  }
#else
  Image img = read_netpbm(path);
  if (img.height != height || img.width != width) {
    throw Error(path + ": image is " + std::to_string(img.width) + "x" +
                std::to_string(img.height) + ", the model takes " + std::to_string(width) + "x" +
                std::to_string(height) + (resize ? " (resizing needs OpenCV)" : ""));
  }
  const size_t plane = static_cast<size_t>(height) * width;
  out.pixels.resize(plane * channels);
  for (int c = 0; c < channels; ++c)
    for (size_t i = 0; i < plane; ++i) {
      if (img.channels == channels) {
        out.pixels[c * plane + i] = img.pixels[c * plane + i];
      } else if (img.channels == 1) {
        out.pixels[c * plane + i] = img.pixels[i];  // gray -> RGB
      } else {  // RGB -> gray, ITU-R BT.601 like OpenCV, integer arithmetic
        const int r = img.pixels[i], g = img.pixels[plane + i], bl = img.pixels[2 * plane + i];
        out.pixels[i] = static_cast<uint8_t>((r * 4899 + g * 9617 + bl * 1868 + 8192) >> 14);
      }
    }
#endif
  return out;
}

}  // namespace f8net::cli
