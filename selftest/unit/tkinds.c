/* tkinds.c — the tables generated from the prototype parser's one type list (AC__TKINDS, src/ffi/proto.h)
 * agree with each other and with C: each kind has its own name, its size is its libffi type's, its
 * signedness is C's, and the classes split the kinds the way the mocks use them. */
#include <asyncheck.h>
#include <string.h>

#include "ffi/proto.h"

#define KIND_COUNT (AC_TK_FNPTR + 1)

AC_TEST(tkinds, each_kind_has_its_own_name) {
    for (int a = 0; a < KIND_COUNT; a++) {
        AC_ASSERT_NOT_NULL(ac__tkind_name((ac__tkind)a));
        for (int b = 0; b < a; b++)
            AC_EXPECT_STR_NE(ac__tkind_name((ac__tkind)a), ac__tkind_name((ac__tkind)b));
    }
    AC_EXPECT_STR_EQ(ac__tkind_name(AC_TK_UINT), "unsigned int");
    AC_EXPECT_STR_EQ(ac__tkind_name(AC_TK_STR), "string");
    AC_EXPECT_STR_EQ(ac__tkind_name(AC_TK_FNPTR), "function pointer");
}

AC_TEST(tkinds, sizes_are_c_and_libffi_sizes) {
    for (int k = AC_TK_BOOL; k < KIND_COUNT; k++) {
        ac__type ty = {.kind = (ac__tkind)k};
        AC_EXPECT_EQ(ac__tkind_size(ty.kind), ac__ffi_type(ty)->size);
    }
    AC_EXPECT_EQ(ac__tkind_size(AC_TK_VOID), 0);
    AC_EXPECT_TRUE(ac__ffi_type((ac__type){.kind = AC_TK_VOID}) == &ffi_type_void);
    AC_EXPECT_EQ(ac__tkind_size(AC_TK_SHORT), sizeof(short));
    AC_EXPECT_EQ(ac__tkind_size(AC_TK_LONG), sizeof(long));
    AC_EXPECT_EQ(ac__tkind_size(AC_TK_FLOAT), sizeof(float));
    AC_EXPECT_EQ(ac__tkind_size(AC_TK_STR), sizeof(const char *));
}

AC_TEST(tkinds, signedness_is_cs_and_libffis) {
    for (int k = 0; k < KIND_COUNT; k++) {
        ac__type ty = {.kind = (ac__tkind)k};
        unsigned short ft = ac__ffi_type(ty)->type;
        bool ffi_signed =
            ft == FFI_TYPE_SINT8 || ft == FFI_TYPE_SINT16 || ft == FFI_TYPE_SINT32 || ft == FFI_TYPE_SINT64;
        AC_EXPECT_EQ(ac__tkind_signed(ty.kind), ffi_signed);
    }
    AC_EXPECT_EQ(ac__tkind_signed(AC_TK_CHAR), (char)-1 < 0);
    AC_EXPECT_TRUE(ac__tkind_signed(AC_TK_LLONG));
    AC_EXPECT_TRUE(!ac__tkind_signed(AC_TK_BOOL));
    AC_EXPECT_TRUE(!ac__tkind_signed(AC_TK_ULONG));
}

AC_TEST(tkinds, the_classes_split_the_kinds) {
    for (int k = 0; k < KIND_COUNT; k++) {
        ac__tkind kind = (ac__tkind)k;
        int in = ac__tkind_integral(kind) + ac__tkind_floating(kind) + ac__tkind_pointer(kind);
        AC_EXPECT_EQ(in, kind == AC_TK_VOID ? 0 : 1);
    }
    AC_EXPECT_TRUE(ac__tkind_integral(AC_TK_BOOL) && ac__tkind_integral(AC_TK_ULLONG));
    AC_EXPECT_TRUE(ac__tkind_floating(AC_TK_FLOAT) && ac__tkind_floating(AC_TK_DOUBLE));
    AC_EXPECT_TRUE(ac__tkind_pointer(AC_TK_PTR) && ac__tkind_pointer(AC_TK_STR) &&
                   ac__tkind_pointer(AC_TK_FNPTR));
    AC_EXPECT_EQ(ac__tkind_class(AC_TK_BOOL), AC__TC_BOOL);
    AC_EXPECT_EQ(ac__tkind_class(AC_TK_STR), AC__TC_STR);
}
