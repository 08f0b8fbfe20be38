#include <string>
#include <utility>

#include "api/routes/routes.hpp"
#include "common/json.hpp"
#include "common/time.hpp"
#include "storage/store.hpp"

namespace noderepair::api {

void AddReplicaRoutes(Router& router, const ApiServices& services) {
    // The replicas serving this database and which one leads (docs/http-api.md 9).
    router.Add({"GET",
                {"v1", "replicas"},
                Access::Token(auth::Role::kAdmin, Scope::kUnscopedOnly),
                [&services](Call&, Responder respond) {
                    std::vector<storage::ReplicaRecord> replicas;
                    Status read = services.store.Read([&](storage::Reader& reader) -> Status {
                        NR_ASSIGN_OR_RETURN(replicas, reader.Replicas().List());
                        return OkStatus();
                    });
                    if (!read) return respond(ErrorResponse(read.error()));
                    std::string body;
                    JsonWriter w(body);
                    w.BeginObject().Key("replicas").BeginArray();
                    for (const auto& r : replicas) {
                        w.BeginObject()
                            .Key("id")
                            .String(r.id)
                            .Key("started_at")
                            .String(FormatRfc3339(r.started_at))
                            .Key("last_seen")
                            .String(FormatRfc3339(r.last_seen))
                            .Key("leader")
                            .Bool(r.leader)
                            .EndObject();
                    }
                    w.EndArray().EndObject();
                    respond(JsonResponse(std::move(body)));
                }});
}

}  // namespace noderepair::api
