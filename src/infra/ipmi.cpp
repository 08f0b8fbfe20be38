#include "infra/ipmi.hpp"

#include <freeipmi/freeipmi.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>

namespace noderepair::infra {
namespace {

constexpr uint8_t kCipherSuite = 3;  // HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128: what BMCs all offer

Result<std::string> ReadPassword(const Bmc& bmc) {
    std::ifstream in(bmc.password_file, std::ios::binary);
    if (!in) {
        return InvalidArgument("BMC " + bmc.address + ": cannot read password_file " +
                               bmc.password_file);
    }
    std::stringstream text;
    text << in.rdbuf();
    std::string password = text.str();
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) {
        password.pop_back();
    }
    return password;
}

Error ErrorOf(const Bmc& bmc, ipmi_ctx_t ctx, std::chrono::milliseconds timeout) {
    const int errnum = ipmi_ctx_errnum(ctx);
    const std::string what = "BMC " + bmc.address + ": " + ipmi_ctx_errormsg(ctx);
    switch (errnum) {
        case IPMI_ERR_USERNAME_INVALID:
        case IPMI_ERR_PASSWORD_INVALID:
        case IPMI_ERR_K_G_INVALID:
        case IPMI_ERR_PRIVILEGE_LEVEL_INSUFFICIENT:
        case IPMI_ERR_PRIVILEGE_LEVEL_CANNOT_BE_OBTAINED:
        case IPMI_ERR_PERMISSION:
            return PermissionDenied(what + " (the BMC refused the credentials of user " +
                                    bmc.username + ")");
        case IPMI_ERR_SESSION_TIMEOUT:
        case IPMI_ERR_CONNECTION_TIMEOUT:
        case IPMI_ERR_MESSAGE_TIMEOUT:
        case IPMI_ERR_BMC_BUSY:
            return Unavailable("BMC " + bmc.address + " did not answer within " +
                               std::to_string(timeout.count()) + " ms");
        case IPMI_ERR_HOSTNAME_INVALID:
        case IPMI_ERR_PARAMETERS:
            return InvalidArgument(what);
        default:
            return Unavailable(what);
    }
}

struct CtxDeleter {
    void operator()(ipmi_ctx* ctx) const {
        ipmi_ctx_close(ctx);
        ipmi_ctx_destroy(ctx);
    }
};
using Ctx = std::unique_ptr<ipmi_ctx, CtxDeleter>;

struct Fiid {
    explicit Fiid(fiid_template_t tmpl) : obj(fiid_obj_create(tmpl)) {}
    ~Fiid() { fiid_obj_destroy(obj); }
    Fiid(const Fiid&) = delete;
    Fiid& operator=(const Fiid&) = delete;
    fiid_obj_t obj;
};

Result<Ctx> Open(const Bmc& bmc, std::chrono::milliseconds timeout) {
    NR_ASSIGN_OR_RETURN(auto password, ReadPassword(bmc));
    Ctx ctx(ipmi_ctx_create());
    if (!ctx) return Unavailable("BMC " + bmc.address + ": out of memory");
    const auto session_ms = unsigned(std::max<int64_t>(timeout.count(), 100));
    // Resent within the session's time, as UDP may lose a datagram.
    const unsigned retransmit_ms = std::clamp(session_ms / 4, 50u, 1000u);
    if (ipmi_ctx_open_outofband_2_0(
            ctx.get(), bmc.address.c_str(), bmc.username.c_str(), password.c_str(), nullptr, 0,
            IPMI_PRIVILEGE_LEVEL_ADMIN, kCipherSuite, session_ms, retransmit_ms,
            IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_OPEN_SESSION_PRIVILEGE, IPMI_FLAGS_DEFAULT) < 0) {
        return ErrorOf(bmc, ctx.get(), timeout);
    }
    return ctx;
}

}  // namespace

std::string_view PowerName(PowerState state) {
    switch (state) {
        case PowerState::kOn:
            return "on";
        case PowerState::kOff:
            return "off";
        case PowerState::kUnknown:
            break;
    }
    return "unknown";
}

Result<PowerState> GetPower(const Bmc& bmc, std::chrono::milliseconds timeout) {
    NR_ASSIGN_OR_RETURN(auto ctx, Open(bmc, timeout));
    Fiid rs(tmpl_cmd_get_chassis_status_rs);
    uint64_t on = 0;
    if (ipmi_cmd_get_chassis_status(ctx.get(), rs.obj) < 0) return ErrorOf(bmc, ctx.get(), timeout);
    if (FIID_OBJ_GET(rs.obj, "current_power_state.power_is_on", &on) < 0) {
        return Unavailable("BMC " + bmc.address + ": chassis status without a power state");
    }
    return on ? PowerState::kOn : PowerState::kOff;
}

Status SetPower(const Bmc& bmc, PowerCommand command, std::chrono::milliseconds timeout) {
    NR_ASSIGN_OR_RETURN(auto ctx, Open(bmc, timeout));
    const uint8_t control = command == PowerCommand::kOn    ? IPMI_CHASSIS_CONTROL_POWER_UP
                            : command == PowerCommand::kOff ? IPMI_CHASSIS_CONTROL_POWER_DOWN
                                                            : IPMI_CHASSIS_CONTROL_POWER_CYCLE;
    Fiid rs(tmpl_cmd_chassis_control_rs);
    if (ipmi_cmd_chassis_control(ctx.get(), control, rs.obj) < 0) {
        return ErrorOf(bmc, ctx.get(), timeout);
    }
    return OkStatus();
}

}  // namespace noderepair::infra
