"""What WeChat sends us: payment notifications (and, as the shop grows, refunds and pushes)."""
