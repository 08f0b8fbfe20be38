// The web console's files, embedded at build time from web/ (cmake/embed_web.cmake).
#pragma once

#include <string_view>
#include <vector>

namespace noderepair::api {

struct WebAsset {
    std::string_view path;  // "/index.html"
    std::string_view content;
};

const std::vector<WebAsset>& WebAssets();

}  // namespace noderepair::api
