//! The route table: every route is registered here with its OpenAPI operation.

pub mod account;
pub mod alerts;
pub mod approvals;
pub mod auth;
pub mod backtests;
pub mod bars;
pub mod control;
pub mod history;
pub mod market;
pub mod optimization;
pub mod performance;
pub mod portfolio;
pub mod system;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::ApiState;

/// Every documented route.
pub(crate) fn table() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(system::healthz))
        .routes(routes!(system::readyz))
        .routes(routes!(system::version))
        .routes(routes!(system::config))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::ws_ticket))
        .routes(routes!(auth::me))
        .routes(routes!(account::list))
        .routes(routes!(account::get))
        .routes(routes!(account::equity))
        .routes(routes!(account::risk))
        .routes(routes!(account::pending))
        .routes(routes!(account::positions))
        .routes(routes!(account::position, control::modify))
        .routes(routes!(control::close))
        .routes(routes!(control::close_all))
        .routes(routes!(control::pause))
        .routes(routes!(control::resume))
        .routes(routes!(control::stop))
        .routes(routes!(control::reload))
        .routes(routes!(control::trip))
        .routes(routes!(control::reset))
        .routes(routes!(market::symbol, control::set_symbol))
        .routes(routes!(market::symbols))
        .routes(routes!(market::strategies))
        .routes(routes!(market::quote))
        .routes(routes!(bars::bars))
        .routes(routes!(control::test_signal))
        .routes(routes!(approvals::list))
        .routes(routes!(approvals::approve))
        .routes(routes!(approvals::reject))
        .routes(routes!(system::logs))
        .routes(routes!(history::orders, control::manual_order))
        .routes(routes!(history::order, control::cancel_order))
        .routes(routes!(history::trades))
        .routes(routes!(history::trades_csv))
        .routes(routes!(history::trade))
        .routes(routes!(history::signals))
        .routes(routes!(history::audit))
        .routes(routes!(history::config_history))
        .routes(routes!(performance::summary))
        .routes(routes!(performance::periods))
        .routes(routes!(performance::groups))
        .routes(routes!(portfolio::risk))
        .routes(routes!(portfolio::performance))
        .routes(routes!(optimization::runs))
        .routes(routes!(optimization::run))
        .routes(routes!(optimization::best_parameters))
        .routes(routes!(backtests::runs))
        .routes(routes!(backtests::run))
        .routes(routes!(crate::ws::ws))
        .routes(routes!(alerts::history))
}
