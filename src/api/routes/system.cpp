#include <string>
#include <utility>
#include <vector>

#include "api/routes/routes.hpp"
#include "api/web_assets.hpp"
#include "storage/store.hpp"
#include "telemetry/metrics.hpp"

namespace noderepair::api {

void AddSystemRoutes(Router& router, const ApiServices& services) {
    // Liveness: answered on the I/O thread, so a full worker queue does not hide a live server.
    router.Add(
        {.method = "GET",
         .pattern = {"healthz"},
         .access = Access::Open(),
         .handler = [](Call&, Responder respond) { respond(JsonResponse(R"({"status":"ok"})")); },
         .on_io_thread = true});
    router.Add({"GET", {"readyz"}, Access::Open(), [&services](Call&, Responder respond) {
                    Status readable = services.store.Read([](storage::Reader& reader) -> Status {
                        return reader.Settings().Get("engine.paused") ? OkStatus()
                                                                      : Status(Unavailable(""));
                    });
                    if (!readable) {
                        return respond(ErrorResponse(Unavailable("storage is not readable")));
                    }
                    respond(JsonResponse(R"({"status":"ready"})"));
                }});

    // Prometheus metrics (README "Metrics"): open like /healthz, for scrapers.
    router.Add({"GET", {"metrics"}, Access::Open(), [&services](Call&, Responder respond) {
                    telemetry::Snapshot snapshot;
                    Status read = services.store.Read([&](storage::Reader& reader) -> Status {
                        NR_ASSIGN_OR_RETURN(snapshot.remediations, reader.Remediations().Count());
                        NR_ASSIGN_OR_RETURN(auto paused, reader.Settings().Get("engine.paused"));
                        snapshot.engine_paused = paused && *paused == "true";
                        return OkStatus();
                    });
                    if (!read) return respond(ErrorResponse(read.error()));
                    snapshot.engine_in_flight =
                        services.engine_in_flight ? services.engine_in_flight() : 0;
                    snapshot.watch_streams = services.watch.Subscribers();
                    HttpResponse r;
                    r.body = services.metrics.Render(snapshot);
                    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
                    respond(std::move(r));
                }});

    // The web console's static files. docs/http-api.md 10: the policy is a header, as a <meta>
    // tag cannot forbid framing; another site framing the console could hijack a click on
    // "Approve".
    const std::vector<std::pair<std::string, std::string>> console_headers = {
        {"content-security-policy",
         "default-src 'self'; base-uri 'none'; object-src 'none'; "
         "frame-ancestors 'none'"},
        {"x-frame-options", "DENY"},
        {"referrer-policy", "no-referrer"},
    };
    for (const auto& asset : WebAssets()) {
        std::string name(asset.path.substr(1));
        std::vector<std::vector<std::string>> paths = {{name}};
        if (name == "index.html") paths.push_back({});
        std::string type = name.ends_with(".html")  ? "text/html; charset=utf-8"
                           : name.ends_with(".js")  ? "text/javascript; charset=utf-8"
                           : name.ends_with(".css") ? "text/css; charset=utf-8"
                           : name.ends_with(".svg") ? "image/svg+xml"
                                                    : "application/octet-stream";
        for (auto& path : paths) {
            router.Add({"GET", path, Access::Open(),
                        [asset, type, console_headers](Call&, Responder respond) {
                            HttpResponse r;
                            r.body = std::string(asset.content);
                            r.content_type = type;
                            r.headers = console_headers;
                            respond(std::move(r));
                        }});
        }
    }
}

}  // namespace noderepair::api
