export { approvalId } from './approval-id';
export { APPROVAL_STATUSES, toApprovalView, type ApprovalView, type ApprovalRow } from './approval.view';
export { ApprovalsProjection, type ApprovalsProjectionOptions } from './approvals.projection';
export { APPROVALS_PROJECTOR_DURABLE, ApprovalsProjector, type ApprovalsProjectorOptions } from './approvals.projector';
export { ApprovalsService, type ApprovalListQuery, type Approver, type DecisionBody } from './approvals.service';
export { DecisionDelivery, type CommandSender, type DecisionDeliveryOptions } from './decision-delivery';
