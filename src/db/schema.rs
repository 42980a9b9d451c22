//! Diesel table definitions, shared by both backends (see `migrations/postgres` and
//! `migrations/sqlite`, which must stay in step with this file).

diesel::table! {
    funds (id) {
        id -> Text,
        code -> Text,
        name -> Text,
        created_at -> Timestamp,
        legal_name -> Nullable<Text>,
        iban -> Nullable<Text>,
        bic -> Nullable<Text>,
    }
}

diesel::table! {
    schemes (id) {
        id -> Text,
        fund_id -> Text,
        code -> Text,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    scheme_versions (id) {
        id -> Text,
        fund_id -> Text,
        scheme_id -> Text,
        effective_from -> Date,
        annual_amount_cents -> BigInt,
        max_balance_cents -> BigInt,
        validity_years -> Integer,
        eligible_categories -> Text,
        max_claim_amount_cents -> BigInt,
        allow_partial -> Bool,
        guidance_required_above_cents -> Nullable<BigInt>,
        guidance_window_days -> Integer,
        funding_pct -> Integer,
        claim_deadline_days -> Integer,
        created_at -> Timestamp,
        provider_policy -> Text,
        payee -> Text,
        review_above_cents -> Nullable<BigInt>,
    }
}

diesel::table! {
    employers (id) {
        id -> Text,
        fund_id -> Text,
        kvk_number -> Text,
        name -> Text,
        sector -> Text,
        created_at -> Timestamp,
        iban -> Nullable<Text>,
    }
}

diesel::table! {
    workers (id) {
        id -> Text,
        fund_id -> Text,
        participant_number -> Text,
        employer_id -> Text,
        birth_year -> Nullable<Integer>,
        education_level -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    budget_accounts (id) {
        id -> Text,
        fund_id -> Text,
        worker_id -> Text,
        scheme_id -> Text,
        available_cents -> BigInt,
        reserved_cents -> BigInt,
        granted_cents -> BigInt,
        spent_cents -> BigInt,
        expired_cents -> BigInt,
        tx_count -> BigInt,
        chain_head -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    grant_lots (id) {
        id -> Text,
        fund_id -> Text,
        account_id -> Text,
        transaction_id -> Text,
        grant_year -> Integer,
        amount_cents -> BigInt,
        available_cents -> BigInt,
        reserved_cents -> BigInt,
        expires_on -> Date,
        created_at -> Timestamp,
    }
}

diesel::table! {
    ledger_transactions (id) {
        id -> Text,
        fund_id -> Text,
        account_id -> Text,
        seq -> BigInt,
        kind -> Text,
        effective_date -> Date,
        recorded_at -> Timestamp,
        actor -> Text,
        reverses -> Nullable<Text>,
        reference -> Nullable<Text>,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    ledger_postings (transaction_id, line) {
        transaction_id -> Text,
        line -> Integer,
        fund_id -> Text,
        account -> Text,
        budget_account_id -> Nullable<Text>,
        scheme_id -> Text,
        lot_id -> Nullable<Text>,
        amount_cents -> BigInt,
    }
}

diesel::table! {
    vouchers (id) {
        id -> Text,
        fund_id -> Text,
        worker_id -> Text,
        scheme_id -> Text,
        account_id -> Text,
        code -> Text,
        amount_cents -> BigInt,
        course -> Text,
        provider -> Text,
        valid_until -> Date,
        status -> Text,
        issued_by -> Text,
        claim_id -> Nullable<Text>,
        created_at -> Timestamp,
        closed_at -> Nullable<Timestamp>,
        provider_id -> Nullable<Text>,
    }
}

diesel::table! {
    voucher_lots (voucher_id, lot_id) {
        voucher_id -> Text,
        lot_id -> Text,
        fund_id -> Text,
        amount_cents -> BigInt,
    }
}

diesel::table! {
    claims (id) {
        id -> Text,
        fund_id -> Text,
        worker_id -> Text,
        employer_id -> Text,
        scheme_id -> Text,
        scheme_version_id -> Text,
        account_id -> Nullable<Text>,
        amount_cents -> BigInt,
        category -> Text,
        course -> Text,
        provider -> Text,
        invoice_reference -> Text,
        training_start -> Date,
        training_end -> Date,
        voucher_id -> Nullable<Text>,
        voucher_code -> Nullable<Text>,
        evidence_reference -> Nullable<Text>,
        status -> Text,
        approved_cents -> BigInt,
        rejection_reason -> Nullable<Text>,
        decision_note -> Nullable<Text>,
        payment_reference -> Nullable<Text>,
        spend_tx_id -> Nullable<Text>,
        reversal_tx_id -> Nullable<Text>,
        submitted_by -> Text,
        submitted_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
        paid_at -> Nullable<Timestamp>,
        reversed_at -> Nullable<Timestamp>,
        provider_id -> Nullable<Text>,
        held_cents -> BigInt,
    }
}

diesel::table! {
    claim_periods (claim_id, kind) {
        claim_id -> Text,
        kind -> Text,
        fund_id -> Text,
        opened_at -> Timestamp,
        closed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    claim_lots (claim_id, lot_id) {
        claim_id -> Text,
        lot_id -> Text,
        fund_id -> Text,
        amount_cents -> BigInt,
    }
}

diesel::table! {
    idempotency_keys (fund_id, caller, key) {
        fund_id -> Text,
        caller -> Text,
        key -> Text,
        request_hash -> Text,
        status_code -> Nullable<Integer>,
        response_body -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    coaching_sessions (id) {
        id -> Text,
        fund_id -> Text,
        worker_id -> Text,
        coach -> Text,
        held_on -> Date,
        duration_minutes -> Integer,
        kind -> Text,
        voucher_id -> Nullable<Text>,
        claim_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    claim_payments (claim_id) {
        claim_id -> Text,
        fund_id -> Text,
        payment_reference -> Text,
        paid_by -> Text,
        paid_at -> Timestamp,
    }
}

diesel::joinable!(scheme_versions -> schemes (scheme_id));
diesel::joinable!(workers -> employers (employer_id));
diesel::joinable!(payment_batch_items -> payment_batches (batch_id));
diesel::joinable!(budget_accounts -> workers (worker_id));
diesel::joinable!(budget_accounts -> schemes (scheme_id));
diesel::joinable!(grant_lots -> budget_accounts (account_id));
diesel::joinable!(ledger_transactions -> budget_accounts (account_id));
diesel::joinable!(ledger_postings -> ledger_transactions (transaction_id));

diesel::table! {
    employments (worker_id, valid_from) {
        worker_id -> Text,
        valid_from -> Date,
        fund_id -> Text,
        employer_id -> Text,
        valid_until -> Nullable<Date>,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    payment_batches (id) {
        id -> Text,
        fund_id -> Text,
        status -> Text,
        execution_date -> Date,
        debtor_name -> Text,
        debtor_iban -> Text,
        debtor_bic -> Nullable<Text>,
        transaction_count -> Integer,
        total_cents -> BigInt,
        created_at -> Timestamp,
        created_by -> Text,
        bank_reference -> Nullable<Text>,
        closed_at -> Nullable<Timestamp>,
        closed_by -> Nullable<Text>,
    }
}

diesel::table! {
    payment_batch_items (batch_id, claim_id) {
        batch_id -> Text,
        claim_id -> Text,
        fund_id -> Text,
        line -> Integer,
        amount_cents -> BigInt,
        creditor_name -> Text,
        creditor_iban -> Text,
        end_to_end_id -> Text,
        remittance -> Text,
        active -> Bool,
    }
}

diesel::table! {
    providers (id) {
        id -> Text,
        fund_id -> Text,
        kvk_number -> Text,
        name -> Text,
        iban -> Nullable<Text>,
        quality_labels -> Text,
        status -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    provider_suspensions (provider_id, recorded_at) {
        provider_id -> Text,
        recorded_at -> Timestamp,
        fund_id -> Text,
        suspended_on -> Date,
        reason -> Text,
        suspended_by -> Text,
        reinstated_on -> Nullable<Date>,
        reinstated_by -> Nullable<Text>,
    }
}

diesel::table! {
    objections (id) {
        id -> Text,
        fund_id -> Text,
        claim_id -> Text,
        worker_id -> Text,
        employer_id -> Text,
        filed_by_role -> Text,
        filed_by -> Text,
        reason -> Text,
        status -> Text,
        filed_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
        decided_by -> Nullable<Text>,
        motivation -> Nullable<Text>,
    }
}

diesel::table! {
    payment_returns (batch_id, claim_id) {
        batch_id -> Text,
        claim_id -> Text,
        fund_id -> Text,
        reason_code -> Nullable<Text>,
        report_id -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    claim_payments,
    payment_returns,
    objections,
    providers,
    provider_suspensions,
    payment_batches,
    payment_batch_items,
    employments,
    funds,
    schemes,
    scheme_versions,
    employers,
    workers,
    budget_accounts,
    grant_lots,
    ledger_transactions,
    ledger_postings,
    vouchers,
    voucher_lots,
    claims,
    claim_lots,
    claim_periods,
    idempotency_keys,
    coaching_sessions,
    events,
    webhook_subscriptions,
    webhook_deliveries,
);

diesel::table! {
    events (id) {
        id -> Text,
        fund_id -> Text,
        position -> Nullable<BigInt>,
        #[sql_name = "type"]
        event_type -> Text,
        occurred_at -> Timestamp,
        worker_id -> Nullable<Text>,
        employer_id -> Nullable<Text>,
        data -> Text,
    }
}

diesel::table! {
    webhook_subscriptions (id) {
        id -> Text,
        fund_id -> Text,
        url -> Text,
        types -> Nullable<Text>,
        employer_id -> Nullable<Text>,
        secret -> Text,
        status -> Text,
        delivered_position -> BigInt,
        attempts -> Integer,
        failing_since -> Nullable<Timestamp>,
        next_attempt_at -> Timestamp,
        lease_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        subscription_id -> Text,
        fund_id -> Text,
        event_id -> Text,
        attempt -> Integer,
        attempted_at -> Timestamp,
        status_code -> Nullable<Integer>,
        outcome -> Text,
        error -> Nullable<Text>,
        duration_ms -> BigInt,
    }
}
